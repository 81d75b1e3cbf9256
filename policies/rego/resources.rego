# Every container states what it needs and what it may use (scheduling and
# FinOps: a container without limits can starve its neighbours).
package main

deny contains msg if {
	some c in containers
	some kind in ["requests", "limits"]
	some resource in ["cpu", "memory"]
	not c.resources[kind][resource]
	msg := sprintf("resources: %s has no %s.%s", [where(c), kind, resource])
}

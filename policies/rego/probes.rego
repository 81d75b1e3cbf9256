# Long-running containers say when they are alive and when they take traffic.
package main

deny contains msg if {
	input.kind in long_running_kinds
	some c in pod_spec.containers
	some probe in ["livenessProbe", "readinessProbe"]
	not c[probe]
	msg := sprintf("probes: %s has no %s", [where(c), probe])
}

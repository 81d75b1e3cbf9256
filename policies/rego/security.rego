# Containers run as a non-root user on a read-only root filesystem, without
# privilege escalation and with every capability dropped.
package main

deny contains msg if {
	some c in containers
	not runs_as_non_root(c)
	msg := sprintf("security: %s may run as root: set runAsNonRoot", [where(c)])
}

deny contains msg if {
	some c in containers
	not c.securityContext.readOnlyRootFilesystem == true
	msg := sprintf("security: %s has a writable root filesystem", [where(c)])
}

deny contains msg if {
	some c in containers
	not c.securityContext.allowPrivilegeEscalation == false
	msg := sprintf("security: %s allows privilege escalation", [where(c)])
}

deny contains msg if {
	some c in containers
	not "ALL" in object.get(c, ["securityContext", "capabilities", "drop"], [])
	msg := sprintf("security: %s does not drop ALL capabilities", [where(c)])
}

# The container's own setting wins over the pod's.
runs_as_non_root(c) if c.securityContext.runAsNonRoot == true

runs_as_non_root(c) if {
	not c.securityContext.runAsNonRoot == false
	pod_spec.securityContext.runAsNonRoot == true
}

# Where the containers of a Kubernetes object are: shared by every policy of
# package main (conftest's default namespace).
package main

# Kinds whose pods run until stopped: these need probes.
long_running_kinds := {"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Rollout"}

pod_spec := input.spec if input.kind == "Pod"

pod_spec := input.spec.template.spec if {
	input.kind in (long_running_kinds | {"Job"})
}

pod_spec := input.spec.jobTemplate.spec.template.spec if input.kind == "CronJob"

containers contains c if {
	some c in pod_spec.containers
}

containers contains c if {
	some c in pod_spec.initContainers
}

# "Rollout opsbox-api, container api".
where(c) := sprintf("%s %s, container %s", [input.kind, input.metadata.name, c.name])

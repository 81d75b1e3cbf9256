# `conftest verify --policy policies/rego`: each rule with a passing and a
# failing example.
package main

good_container := {
	"name": "api",
	"image": "ghcr.io/opsbox/opsbox-api:0.1.0",
	"resources": {
		"requests": {"cpu": "100m", "memory": "64Mi"},
		"limits": {"cpu": "1", "memory": "256Mi"},
	},
	"livenessProbe": {"httpGet": {"path": "/health", "port": "http"}},
	"readinessProbe": {"httpGet": {"path": "/ready", "port": "http"}},
	"securityContext": {
		"runAsNonRoot": true,
		"readOnlyRootFilesystem": true,
		"allowPrivilegeEscalation": false,
		"capabilities": {"drop": ["ALL"]},
	},
}

deployment(c) := {
	"kind": "Deployment",
	"metadata": {"name": "opsbox-api"},
	"spec": {"template": {"spec": {"containers": [c]}}},
}

# The good container with one field replaced whole (object.union would merge).
with_field(name, value) := object.union(object.remove(good_container, [name]), {name: value})

denied(c, prefix) if {
	some msg in deny with input as deployment(c)
	startswith(msg, prefix)
}

test_good_workload_passes if {
	count(deny) == 0 with input as deployment(good_container)
}

test_a_job_needs_no_probes if {
	job := {
		"kind": "Job", "metadata": {"name": "migrate"},
		"spec": {"template": {"spec": {"containers": [object.remove(good_container, ["livenessProbe", "readinessProbe"])]}}},
	}
	count(deny) == 0 with input as job
}

test_latest_is_denied if {
	denied(object.union(good_container, {"image": "ghcr.io/opsbox/opsbox-api:latest"}), "images:")
}

test_untagged_is_denied if {
	denied(object.union(good_container, {"image": "ghcr.io/opsbox/opsbox-api"}), "images:")
}

test_a_registry_port_is_not_a_tag if {
	denied(object.union(good_container, {"image": "registry:5000/opsbox-api"}), "images:")
}

test_a_digest_passes if {
	not denied(object.union(good_container, {"image": "ghcr.io/opsbox/opsbox-api@sha256:0000000000000000000000000000000000000000000000000000000000000000"}), "images:")
}

test_missing_limits_are_denied if {
	denied(with_field("resources", {"requests": {"cpu": "1", "memory": "1Mi"}}), "resources:")
}

test_missing_requests_are_denied if {
	denied(with_field("resources", {"limits": {"cpu": "1", "memory": "1Mi"}}), "resources:")
}

test_missing_readiness_is_denied if {
	denied(object.remove(good_container, ["readinessProbe"]), "probes:")
}

test_missing_liveness_is_denied if {
	denied(object.remove(good_container, ["livenessProbe"]), "probes:")
}

test_root_is_denied if {
	denied(object.union(good_container, {"securityContext": {"runAsNonRoot": false}}), "security:")
}

test_non_root_from_the_pod_passes if {
	c := with_field("securityContext", object.remove(good_container.securityContext, ["runAsNonRoot"]))
	d := object.union(deployment(c), {"spec": {"template": {"spec": {"securityContext": {"runAsNonRoot": true}}}}})
	count(deny) == 0 with input as d
}

test_writable_root_is_denied if {
	denied(object.union(good_container, {"securityContext": {"readOnlyRootFilesystem": false}}), "security:")
}

test_escalation_is_denied if {
	denied(with_field("securityContext", object.remove(good_container.securityContext, ["allowPrivilegeEscalation"])), "security:")
}

test_kept_capabilities_are_denied if {
	denied(object.union(good_container, {"securityContext": {"capabilities": {"drop": ["NET_RAW"]}}}), "security:")
}

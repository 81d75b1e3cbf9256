# Images are immutable references: a tag other than `latest`, or a digest.
package main

deny contains msg if {
	some c in containers
	endswith(c.image, ":latest")
	msg := sprintf("images: %s uses the mutable tag latest (%s)", [where(c), c.image])
}

deny contains msg if {
	some c in containers
	not tagged_or_pinned(c.image)
	msg := sprintf("images: %s has an untagged image (%s): pin a tag or a digest", [where(c), c.image])
}

tagged_or_pinned(image) if contains(image, "@sha256:")

tagged_or_pinned(image) if {
	parts := split(image, "/")
	contains(parts[count(parts) - 1], ":")
}

# Helpers shared by the starter policies (package main, as conftest's default).
package main

# A resource change that creates or updates (a replacement included).
changed(rc) if {
	some action in rc.change.actions
	action in {"create", "update"}
}

# The ids of the built-in administrator roles the manifest reads as data
# sources (`[data.role.admin] name = "admin"`).
admin_role_ids contains source.id if {
	some address, source in input.data_sources
	startswith(address, "data.role.")
	lower(source.name) in {"admin", "master admin"}
}

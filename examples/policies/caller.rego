# No change takes a role away from the client (or user) gcrecon runs as:
# a pipeline that demotes itself cannot repair the mistake.
package main

# A grant of `before` that `after` still holds, in every division it had.
grant_kept(grant, after) if {
	some kept in after.roles
	kept.role == grant.role
	every division in grant.divisions {
		division in kept.divisions
	}
}

deny contains msg if {
	input.caller.kind == "client"
	some rc in input.resource_changes
	rc.type == "oauth_client"
	rc.id == input.caller.id
	some grant in rc.change.before.roles
	not grant_kept(grant, object.get(rc.change, "after", {}))
	msg := sprintf("%s is the OAuth client gcrecon runs as (%s): this change takes the role %s away from it", [rc.address, input.caller.name, grant.role])
}

subjects_after(rc) := rc.change.after.subjects if rc.change.after != null

subjects_after(rc) := [] if rc.change.after == null

deny contains msg if {
	some rc in input.resource_changes
	rc.type == "role_grant"
	input.caller.id in rc.change.before.subjects
	not input.caller.id in subjects_after(rc)
	msg := sprintf("%s: this change takes its role away from the caller gcrecon runs as (%s)", [rc.address, input.caller.name])
}

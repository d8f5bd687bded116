# No wildcard-everything permission, no administrator role on an OAuth client.
package main

deny contains msg if {
	some rc in input.resource_changes
	rc.type == "role"
	changed(rc)
	some permission in rc.change.after.permissions
	permission == "*:*:*"
	msg := sprintf("%s: the permission *:*:* gives every right in the organization; list the permissions the role needs", [rc.address])
}

deny contains msg if {
	some rc in input.resource_changes
	rc.type == "oauth_client"
	changed(rc)
	some grant in rc.change.after.roles
	grant.role in admin_role_ids
	msg := sprintf("%s: an OAuth client must not hold the admin role; give it a role with only the permissions it needs", [rc.address])
}

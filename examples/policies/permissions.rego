# No wildcard-everything permission, no administrator role on an OAuth client.
package main

# Domains whose every right amounts to every right in the organization:
# whoever may grant roles or make OAuth clients can give itself anything.
everything_domains := {"*", "authorization", "oauth"}

deny contains msg if {
	some rc in input.resource_changes
	rc.type == "role"
	changed(rc)
	some permission in rc.change.after.permissions
	parts := split(permission, ":")
	parts[0] in everything_domains
	parts[1] == "*"
	parts[2] == "*"
	msg := sprintf("%s: the permission %s gives every right in the organization; list the permissions the role needs", [rc.address, permission])
}

deny contains msg if {
	some rc in input.resource_changes
	rc.type == "oauth_client"
	changed(rc)
	some grant in rc.change.after.roles
	grant.role in admin_role_ids
	msg := sprintf("%s: an OAuth client must not hold the admin role; give it a role with only the permissions it needs", [rc.address])
}

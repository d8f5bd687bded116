# Roles and OAuth clients are deleted (or replaced, which deletes first)
# only when allowed by address in allow.rego (deletion_allowed): a deleted
# client's credentials stop working at once.
package main

deny contains msg if {
	some rc in input.resource_changes
	rc.type in {"role", "oauth_client"}
	"delete" in rc.change.actions
	not rc.address in deletion_allowed
	msg := sprintf("%s would be deleted; add %q to deletion_allowed in allow.rego if that is intended", [rc.address, rc.address])
}

# OAuth clients use the client-credentials grant, unless allowed by name in
# allow.rego (grant_type_allowed).
package main

deny contains msg if {
	some rc in input.resource_changes
	rc.type == "oauth_client"
	changed(rc)
	rc.change.after.grant_type != "client_credentials"
	not rc.change.after.name in grant_type_allowed
	msg := sprintf("%s: the grant type %s is not client_credentials; add %q to grant_type_allowed in allow.rego if it must be", [rc.address, rc.change.after.grant_type, rc.change.after.name])
}

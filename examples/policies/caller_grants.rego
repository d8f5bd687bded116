# Warn (without blocking) when gcrecon grants a role to its own caller so
# that it may give the role to OAuth clients: reviewers should see it.
package main

warn contains msg if {
	some grant in input.caller_grants
	grant.action == "grant"
	not grant.temporary
	msg := sprintf("the caller (%s) is given the role %s for good, so it can give it to %s", [input.caller.name, grant.role_name, concat(", ", grant.needed_by)])
}

warn contains msg if {
	some grant in input.caller_grants
	grant.action == "grant"
	grant.temporary
	msg := sprintf("the caller (%s) holds the role %s during the apply, so it can give it to %s", [input.caller.name, grant.role_name, concat(", ", grant.needed_by)])
}

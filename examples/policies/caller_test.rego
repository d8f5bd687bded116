package main

caller_client_change(actions, after) := {
	"caller": {"kind": "client", "id": "ci-client", "name": "gcrecon-ci"},
	"resource_changes": [{
		"address": "oauth_client.ci", "type": "oauth_client", "id": "ci-client",
		"change": {"actions": actions, "before": {
			"name": "gcrecon-ci", "grant_type": "client_credentials",
			"roles": [{"role": "admin-id", "divisions": ["*"]}, {"role": "reader-id", "divisions": ["home"]}],
		}, "after": after},
	}],
}

test_taking_a_role_from_the_caller_is_denied if {
	after := {"name": "gcrecon-ci", "grant_type": "client_credentials", "roles": [{"role": "reader-id", "divisions": ["home"]}]}
	result := deny with input as caller_client_change(["update"], after)
	count(result) == 1
}

test_adding_a_role_to_the_caller_passes if {
	after := {"name": "gcrecon-ci", "grant_type": "client_credentials", "roles": [
		{"role": "admin-id", "divisions": ["*"]},
		{"role": "reader-id", "divisions": ["home", "emea"]},
	]}
	result := deny with input as caller_client_change(["update"], after)
	count(result) == 0
}

test_deleting_the_callers_client_is_denied if {
	result := deny with input as caller_client_change(["delete"], null)
	some msg in result
	contains(msg, "runs as")
}

test_removing_the_caller_from_a_role_grant_is_denied if {
	plan := {
		"caller": {"kind": "client", "id": "ci-client", "name": "gcrecon-ci"},
		"resource_changes": [{
			"address": "role_grant.ops", "type": "role_grant",
			"change": {"actions": ["update"], "before": {"subjects": ["ci-client", "u-1"]}, "after": {"subjects": ["u-1"]}},
		}],
	}
	result := deny with input as plan
	count(result) == 1
}

test_another_clients_roles_may_change if {
	plan := {
		"caller": {"kind": "client", "id": "ci-client", "name": "gcrecon-ci"},
		"resource_changes": [{
			"address": "oauth_client.vendor", "type": "oauth_client", "id": "vendor-client",
			"change": {"actions": ["update"], "before": {"grant_type": "client_credentials", "name": "V", "roles": [{"role": "r", "divisions": ["*"]}]}, "after": {"grant_type": "client_credentials", "name": "V", "roles": []}},
		}],
	}
	result := deny with input as plan
	count(result) == 0
}

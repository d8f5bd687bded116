package main

test_a_caller_grant_warns if {
	plan := {
		"caller": {"kind": "client", "id": "ci-client", "name": "gcrecon-ci"},
		"resource_changes": [],
		"caller_grants": [{"role": "role.r", "role_name": "Reader", "divisions": ["*"], "action": "grant", "temporary": true, "needed_by": ["oauth_client.api"]}],
	}
	result := warn with input as plan
	count(result) == 1
	denied := deny with input as plan
	count(denied) == 0
}

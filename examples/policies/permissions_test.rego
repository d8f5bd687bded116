package main

role_with(permissions) := {"resource_changes": [{
	"address": "role.x", "type": "role",
	"change": {"actions": ["create"], "before": null, "after": {"name": "X", "permissions": permissions}},
}]}

test_wildcard_everything_is_denied if {
	result := deny with input as role_with(["routing:queue:view", "*:*:*"])
	count(result) == 1
}

test_granting_every_role_is_denied if {
	result := deny with input as role_with(["authorization:*:*", "oauth:*:*"])
	count(result) == 2
}

test_named_permissions_pass if {
	result := deny with input as role_with(["routing:queue:view", "routing:*:*"])
	count(result) == 0
}

client_with_role(role) := {
	"data_sources": {"data.role.admin": {"id": "admin-id", "name": "admin"}},
	"resource_changes": [{
		"address": "oauth_client.vendor", "type": "oauth_client",
		"change": {"actions": ["update"], "before": {}, "after": {
			"name": "Vendor", "grant_type": "client_credentials",
			"roles": [{"role": role, "divisions": ["*"]}],
		}},
	}],
}

test_admin_role_on_a_client_is_denied if {
	result := deny with input as client_with_role("admin-id")
	count(result) == 1
}

test_another_role_on_a_client_passes if {
	result := deny with input as client_with_role("reader-id")
	count(result) == 0
}

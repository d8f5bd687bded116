package main

deleting(address, kind, actions) := {"resource_changes": [{
	"address": address, "type": kind,
	"change": {"actions": actions, "before": {"name": "x", "grant_type": "client_credentials"}, "after": null},
}]}

test_deleting_a_client_is_denied if {
	result := deny with input as deleting("oauth_client.old", "oauth_client", ["delete"])
	count(result) == 1
}

test_replacing_a_role_is_denied if {
	result := deny with input as deleting("role.old", "role", ["delete", "create"])
	count(result) == 1
}

test_deletion_allowed_by_address if {
	result := deny with input as deleting("oauth_client.old", "oauth_client", ["delete"])
		with data.main.deletion_allowed as {"oauth_client.old"}
	count(result) == 0
}

test_deleting_a_group_passes if {
	result := deny with input as deleting("group.old", "group", ["delete"])
	count(result) == 0
}

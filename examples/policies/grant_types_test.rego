package main

client_with_grant(name, grant_type) := {"resource_changes": [{
	"address": "oauth_client.c", "type": "oauth_client",
	"change": {"actions": ["create"], "before": null, "after": {"name": name, "grant_type": grant_type, "roles": []}},
}]}

test_code_grant_is_denied if {
	result := deny with input as client_with_grant("Vendor portal", "code")
	count(result) == 1
}

test_code_grant_allowed_by_name if {
	result := deny with input as client_with_grant("emite_SSO", "code")
	count(result) == 0
}

test_client_credentials_pass if {
	result := deny with input as client_with_grant("Vendor API", "client_credentials")
	count(result) == 0
}

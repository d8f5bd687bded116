# The allow-lists of the starter policies: edit them in review.
package main

# OAuth clients (by display name) that may use a grant type other than
# client_credentials. The eMite example's SSO client signs users in with
# the authorization-code grant, as eMite's guide asks.
grant_type_allowed := {"emite_SSO"}

# Addresses of roles and OAuth clients that a plan may delete or replace,
# e.g. {"oauth_client.legacy"}.
deletion_allowed := set()

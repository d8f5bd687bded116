"""The official Genesys Cloud Python SDK, unchanged, against gcsim.

Every call deserializes gcsim's answers into the SDK's models, which catches
nulls (the SDK's enum setters crash on None), enum values outside the
SDK's lists (they come back as "outdated_sdk_version"), and misnamed fields
(they come back as None).
"""

import uuid

import pytest
import PureCloudPlatformClientV2 as gc
from PureCloudPlatformClientV2.rest import ApiException


def unique(prefix):
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def no_outdated(obj):
    """No enum in a deserialized model came back as outdated_sdk_version."""
    text = str(obj)
    assert "outdated_sdk_version" not in text, text


def home_division(client):
    return gc.AuthorizationApi(client).get_authorization_divisions_home()


def policies(*perms):
    """DomainPermissionPolicy models for domain:entity:action strings, one per
    domain and entity with its actions merged."""
    by = {}
    for p in perms:
        d, e, a = p.split(":", 2)
        by.setdefault((d, e), []).append(a)
    out = []
    for (d, e), actions in sorted(by.items()):
        pol = gc.DomainPermissionPolicy()
        pol.domain = d
        pol.entity_name = e
        pol.action_set = sorted(actions)
        out.append(pol)
    return out


def policy_strings(role):
    return sorted(
        f"{p.domain}:{p.entity_name}:{a}"
        for p in (role.permission_policies or [])
        for a in p.action_set
    )


def role_by_name(client, name):
    roles = gc.AuthorizationApi(client).get_authorization_roles(name=name)
    assert roles.total == 1, roles
    return roles.entities[0]


def test_organization_and_token(sim, client):
    org = gc.OrganizationApi(client).get_organizations_me()
    assert org.name == "Acme"
    assert org.third_party_org_name == "acme"
    assert org.state == "active"
    assert org.product_platform == "GenesysCloud"
    token = gc.TokensApi(client).get_tokens_me()
    assert token.o_auth_client.id == "ci-client"
    assert token.organization.id == org.id
    no_outdated(org)
    assert sim.dump()["org"]["region"] == "ap-southeast-2"


def test_divisions(client):
    api = gc.AuthorizationApi(client)
    home = api.get_authorization_divisions_home()
    assert home.name == "Home" and home.home_division is True
    body = gc.AuthzDivision()
    body.name = unique("Division")
    body.description = "made by the SDK"
    created = api.post_authorization_divisions(body)
    got = api.get_authorization_division(created.id)
    assert got.name == body.name and got.home_division is False
    listed = api.get_authorization_divisions(id=[created.id, home.id])
    assert listed.total == 2
    body.name = body.name + "-renamed"
    assert api.put_authorization_division(created.id, body).name == body.name
    api.delete_authorization_division(created.id)
    with pytest.raises(ApiException) as e:
        api.get_authorization_division(created.id)
    assert e.value.status == 404


def test_roles_and_filters(client):
    api = gc.AuthorizationApi(client)
    employee = api.get_authorization_roles(default_role_id=["employee"])
    assert employee.total == 1
    assert employee.entities[0].default_role_id == "employee"
    body = gc.DomainOrganizationRoleCreate()
    body.name = unique("Query Queue Status")
    body.description = "Cognigy"
    body.permission_policies = policies("routing:queue:view", "routing:queue:readonly")
    role = api.post_authorization_roles(body)
    assert policy_strings(role) == ["routing:queue:readonly", "routing:queue:view"]
    assert role.permission_policies[0].domain == "routing"
    assert not role.permissions
    got = api.get_authorization_role(role.id)
    assert got.name == body.name
    assert got.user_count == 0
    found = api.get_authorization_roles(name=body.name)
    assert [r.id for r in found.entities] == [role.id]
    update = gc.DomainOrganizationRoleUpdate()
    update.name = body.name
    update.permission_policies = policies("routing:queue:view")
    assert policy_strings(api.put_authorization_role(role.id, update)) == ["routing:queue:view"]
    # the fixture licensed the eMite permission
    emite = gc.DomainOrganizationRoleCreate()
    emite.name = unique("eMite_Home")
    emite.permission_policies = policies("integration:emiteApps:view")
    api.post_authorization_roles(emite)
    # a permission the org does not have is accepted (and grants nothing)
    bogus = gc.DomainOrganizationRoleCreate()
    bogus.name = unique("bogus")
    bogus.permission_policies = policies("nosuch:thing:view")
    assert policy_strings(api.post_authorization_roles(bogus)) == ["nosuch:thing:view"]
    api.delete_authorization_role(role.id)


def client_holding(sim, client, role):
    """A client-credentials client holding `role` in the home division."""
    auth = gc.AuthorizationApi(client)
    home = home_division(client)
    grant = gc.RoleDivisionPair()
    grant.role_id = role.id
    grant.division_id = home.id
    grants = gc.RoleDivisionGrants()
    grants.grants = [grant]
    auth.post_authorization_subject_bulkadd(sim.client_id, grants, subject_type="PC_OAUTH_CLIENT")
    rd = gc.RoleDivision()
    rd.role_id = role.id
    rd.division_id = home.id
    req = gc.OAuthClientRequest()
    req.name = unique("holder")
    req.authorized_grant_type = "CLIENT-CREDENTIALS"
    req.role_divisions = [rd]
    created = gc.OAuthApi(client).post_oauth_clients(req)
    return sim.client(created.id, created.secret)


def test_policies_grant_and_domain_strings_in_permissions_do_not(sim, client):
    api = gc.AuthorizationApi(client)
    with_policy = gc.DomainOrganizationRoleCreate()
    with_policy.name = unique("queue reader")
    with_policy.permission_policies = policies("routing:queue:view")
    reader = client_holding(sim, client, api.post_authorization_roles(with_policy))
    gc.RoutingApi(reader).get_routing_queues()
    strings_only = gc.DomainOrganizationRoleCreate()
    strings_only.name = unique("strings only")
    strings_only.permissions = ["routing:queue:view"]
    role = api.post_authorization_roles(strings_only)
    assert role.permissions == ["routing:queue:view"]
    assert policy_strings(role) == []
    holder = client_holding(sim, client, role)
    with pytest.raises(ApiException) as e:
        gc.RoutingApi(holder).get_routing_queues()
    assert e.value.status == 403


def test_permission_catalog_paging(client):
    api = gc.AuthorizationApi(client)
    seen = set()
    page = 1
    while True:
        listing = api.get_authorization_permissions(page_size=25, page_number=page)
        for coll in listing.entities:
            for entity, perms in coll.permission_map.items():
                for p in perms:
                    seen.add(f"{p.domain}:{entity}:{p.action}")
        if not listing.next_uri:
            break
        page += 1
    assert page >= 2
    assert "analytics:conversationDetail:view" in seen
    assert "integration:emiteApps:view" in seen
    with pytest.raises(ApiException) as e:
        api.get_authorization_permissions(page_size=101)
    assert e.value.status == 400


def test_groups_members_and_search(sim, client):
    api = gc.GroupsApi(client)
    users = gc.UsersApi(client).get_users(page_size=100).entities
    body = gc.GroupCreate()
    body.name = unique("emite_Access")
    body.type = "official"
    body.visibility = "public"
    body.rules_visible = True
    body.description = "dropped by the create"
    group = api.post_groups(body)
    assert group.description is None
    assert group.version == 1 and group.state == "active" and group.type == "official"
    no_outdated(group)
    members = gc.GroupMembersUpdate()
    members.member_ids = [u.id for u in users]
    members.version = 1
    api.post_group_members(group.id, members)
    got = api.get_group(group.id)
    assert got.member_count == len(users)
    listed = api.get_group_members(group.id)
    assert {u.email for u in listed.entities} == {u.email for u in users}
    update = gc.GroupUpdate()
    update.name = body.name
    update.description = "users of the eMite app"
    update.version = 1  # stale: adding members bumped it
    with pytest.raises(ApiException) as e:
        api.put_group(group.id, body=update)
    assert e.value.status == 400
    assert "does not match the current version" in e.value.body
    update.version = got.version
    assert api.put_group(group.id, body=update).description == "users of the eMite app"
    api.delete_group_members(group.id, users[0].id)
    assert api.get_group(group.id).member_count == len(users) - 1
    search = gc.GroupSearchRequest()
    crit = gc.GroupSearchCriteria()
    crit.type = "EXACT"
    crit.fields = ["name"]
    crit.value = body.name
    search.query = [crit]
    result = api.post_groups_search(search)
    assert result.total == 1 and result.results[0].id == group.id
    assert any(g["id"] == group.id for g in sim.dump()["groups"])
    api.delete_group(group.id)


def test_role_grant_rule_and_oauth_clients(sim, client):
    auth = gc.AuthorizationApi(client)
    oauth = gc.OAuthApi(client)
    home = home_division(client)
    body = gc.DomainOrganizationRoleCreate()
    body.name = unique("Nectar DXP - ReadOnly")
    body.permission_policies = policies(
        "analytics:conversationDetail:view",
        "directory:group:view",
        "directory:user:view",
    )
    role = auth.post_authorization_roles(body)
    rd = gc.RoleDivision()
    rd.role_id = role.id
    rd.division_id = home.id
    req = gc.OAuthClientRequest()
    req.name = unique("Nectar DXP API Access")
    req.authorized_grant_type = "CLIENT-CREDENTIALS"
    req.role_divisions = [rd]
    with pytest.raises(ApiException) as e:
        oauth.post_oauth_clients(req)
    assert e.value.status == 400
    # grant the role to ourselves (our own client id), then it works
    grant = gc.RoleDivisionPair()
    grant.role_id = role.id
    grant.division_id = home.id
    grants = gc.RoleDivisionGrants()
    grants.grants = [grant]
    auth.post_authorization_subject_bulkadd(sim.client_id, grants, subject_type="PC_OAUTH_CLIENT")
    me = auth.get_authorization_subjects_me()
    assert role.id in [g.role.id for g in me.grants]
    created = oauth.post_oauth_clients(req)
    assert created.secret
    assert created.state == "active"
    assert created.authorized_grant_type == "CLIENT-CREDENTIALS"
    assert created.role_divisions[0].role_id == role.id
    got = oauth.get_oauth_client(created.id)
    assert got.secret is None
    assert any(c.id == created.id for c in oauth.get_oauth_clients().entities)
    no_outdated(got)
    # the new client logs in and holds exactly its role
    nectar = sim.client(created.id, created.secret)
    gc.GroupsApi(nectar).get_groups()
    with pytest.raises(ApiException) as e:
        gc.RoutingApi(nectar).get_routing_queues()
    assert e.value.status == 403
    assert "routing:queue:view" in e.value.body
    regenerated = oauth.post_oauth_client_secret(created.id)
    assert regenerated.secret and regenerated.secret != created.secret
    with pytest.raises(ApiException) as e:
        oauth.delete_oauth_client(created.id)
    assert e.value.status == 400
    req.state = "inactive"
    assert oauth.put_oauth_client(created.id, req).state == "inactive"
    oauth.delete_oauth_client(created.id)
    assert "secret" not in str(sim.dump()["oauth_clients"])


def test_integrations(client):
    api = gc.IntegrationsApi(client)
    types = api.get_integrations_types(page_size=100)
    ids = {t.id for t in types.entities}
    assert {"embedded-client-app", "amazon-eventbridge-source", "purecloud-data-actions", "eight-by-eight"} <= ids
    schema = api.get_integrations_type_configschema("amazon-eventbridge-source", "properties")
    assert "awsAccountId" in schema.required
    req = gc.CreateIntegrationRequest()
    req.name = unique("Nectar DXP EventBridge")
    it = gc.IntegrationType()
    it.id = "amazon-eventbridge-source"
    req.integration_type = it
    created = api.post_integrations(body=req)
    assert created.intended_state == "DISABLED"
    assert created.reported_state.code == "INACTIVE"
    no_outdated(created)
    current = api.get_integration_config_current(created.id)
    cfg = gc.IntegrationConfiguration()
    cfg.name = req.name
    cfg.version = current.version
    cfg.properties = {
        "awsAccountId": "123456789012",
        "awsAccountRegion": "us-east-1",
        "eventSourceSuffix": "Genesys-NectarDXP",
        "eventFilter": [
            "v2.users.{id}.tokens",
            "v2.operations.events.{id}",
            "v2.detail.events.conversation.{id}.customer.end",
        ],
    }
    cfg.advanced = {}
    cfg.notes = "by the SDK"
    saved = api.put_integration_config_current(created.id, body=cfg)
    assert saved.version == current.version + 1
    assert saved.properties["awsAccountId"] == "123456789012"
    with pytest.raises(ApiException) as e:
        api.put_integration_config_current(created.id, body=cfg)  # stale version
    assert e.value.status == 409
    cfg.version = saved.version
    cfg.properties = {"awsAccountId": "1", "colour": "red"}
    with pytest.raises(ApiException) as e:
        api.put_integration_config_current(created.id, body=cfg)
    assert e.value.status == 400
    patch = gc.Integration()
    patch.intended_state = "ENABLED"
    enabled = api.patch_integration(created.id, body=patch)
    assert enabled.intended_state == "ENABLED"
    listed = api.get_integrations(expand=["config.current"], page_size=100)
    mine = [i for i in listed.entities if i.id == created.id][0]
    assert mine.config.current.properties["eventSourceSuffix"] == "Genesys-NectarDXP"
    api.delete_integration(created.id)


def test_routing_queues(client):
    api = gc.RoutingApi(client)
    support = api.get_routing_queues(name="Support")
    assert support.total == 1
    q = gc.CreateQueueRequest()
    q.name = unique("Cognigy HQ Queue")
    q.description = "handover"
    created = api.post_routing_queues(q)
    assert created.division.name == "Home"
    no_outdated(created)
    got = api.get_routing_queue(created.id)
    assert got.name == q.name
    assert got.acw_settings.wrapup_prompt == "OPTIONAL"
    upd = gc.QueueRequest()
    upd.name = q.name
    upd.description = "changed"
    assert api.put_routing_queue(created.id, upd).description == "changed"
    api.delete_routing_queue(created.id)


def test_routing_queue_members(client):
    routing = gc.RoutingApi(client)
    support = routing.get_routing_queues(name="Support").entities[0]
    users = gc.UsersApi(client).get_users(page_size=100).entities
    agent = [u for u in users if u.email == "agent@acme.example"][0]
    entity = gc.WritableEntity()
    entity.id = agent.id
    routing.post_routing_queue_members(support.id, [entity])
    members = routing.get_routing_queue_members(support.id, page_size=100)
    mine = [m for m in members.entities if m.id == agent.id][0]
    assert mine.user.email == "agent@acme.example"
    assert mine.member_by == "user" and mine.joined is False
    join = gc.QueueMember()
    join.id = agent.id
    join.joined = True
    joined = routing.patch_routing_queue_members(support.id, [join])
    assert [m.joined for m in joined.entities] == [True]
    routing.post_routing_queue_members(support.id, [entity], delete=True)
    members = routing.get_routing_queue_members(support.id, page_size=100)
    assert agent.id not in [m.id for m in members.entities]


def test_users(sim, client):
    api = gc.UsersApi(client)
    users = api.get_users(page_size=500)
    emails = {u.email for u in users.entities}
    assert {"admin@acme.example", "agent@acme.example"} <= emails
    agent = [u for u in users.entities if u.email == "agent@acme.example"][0]
    no_outdated(agent)
    full = api.get_user(agent.id, expand=["authorization"])
    assert [r.name for r in full.authorization.roles] == ["employee"]
    roles = api.get_user_roles(agent.id)
    assert "directory:user:view" in roles.permissions
    search = gc.UserSearchRequest()
    crit = gc.UserSearchCriteria()
    crit.type = "EXACT"
    crit.fields = ["email"]
    crit.value = "agent@acme.example"
    search.query = [crit]
    assert api.post_users_search(search).results[0].id == agent.id
    # a user token, as a browser login gives
    user_client = gc.ApiClient(host=sim.url)
    user_client.access_token = sim.user_token("admin@acme.example")
    me = gc.UsersApi(user_client).get_users_me(expand=["authorization"])
    assert me.email == "admin@acme.example"
    assert "admin" in [r.name for r in me.authorization.roles]


def test_pureengage_identity_provider(client):
    api = gc.IdentityProviderApi(client)
    body = gc.PureEngage()
    body.name = "PureEngage"
    body.auto_provision_users = True
    body.certificate = "-----BEGIN CERTIFICATE----- ...== -----END CERTIFICATE-----"
    body.issuer_uri = "http://www.genesys.com/pureengage"
    body.sso_target_uri = "http://example.com/target"
    body.disabled = False
    saved = api.put_identityproviders_pureengage(body)
    assert saved.name == "PureEngage"
    got = api.get_identityproviders_pureengage()
    assert got.auto_provision_users is True
    assert got.issuer_uri == "http://www.genesys.com/pureengage"
    api.delete_identityproviders_pureengage()
    with pytest.raises(ApiException) as e:
        api.get_identityproviders_pureengage()
    assert e.value.status == 404


def test_bad_token_and_stale_session(start_sim):
    # gcsim's 429 carries Retry-After, which this SDK's HTTP layer (urllib3
    # Retry) honours by sleeping and retrying; that is checked in the Rust
    # suite, as a minute-long wait has no place here.
    s = start_sim()
    client = gc.ApiClient(host=s.url)
    client.access_token = "not-a-token"
    with pytest.raises(ApiException) as e:
        gc.OrganizationApi(client).get_organizations_me()
    assert e.value.status == 401
    assert "contextId" in e.value.body

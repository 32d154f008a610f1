#!/usr/bin/env python3
"""Generates src/redact/tests/redteam8_corpus.jsonl (round 16's siblings of redteam7's misses)."""
import base64, json, random, sys
R = random.Random(8016)
AL = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
def rnd(n, al=AL):
    while True:
        s = "".join(R.choice(al) for _ in range(n))
        if al != AL or (any(c.isdigit() for c in s) and any(c.islower() for c in s) and any(c.isupper() for c in s)):
            return s
def hexs(n): return "".join(R.choice("0123456789abcdef") for _ in range(n))
def pw(n=16): return rnd(n)
def b64(nbytes): return base64.b64encode(bytes(R.randrange(256) for _ in range(nbytes))).decode()
cases = []
def pos(ctx, text, *secrets): cases.append(("p", ctx, text, list(secrets)))
def neg(ctx, text): cases.append(("n", ctx, text, []))

# --- secret-store and package-manager CLIs
s = pw(); pos("cli_secret_store", f"az keyvault secret set --vault-name kv-staging --name api-token --value {s}", s)
s = pw(); pos("cli_secret_store", f"security add-internet-password -a ci -s repo.acme.io -w '{s}'", s)
s = pw(); pos("cli_secret_store", f"security unlock-keychain -p {s} build.keychain", s)
s = pw(); pos("cli_secret_store", f"security import dist.p12 -k build.keychain -P \"{s}\" -T /usr/bin/codesign", s)
s = pw(); pos("cli_secret_store", f"bw unlock {s} --raw", s)
s = pw(); pos("cli_positional", f"poetry config http-basic.private deploy {s}", s)
s = pw(); pos("cli_positional", f"composer config -g http-basic.repo.packagist.com token {s}", s)
s = rnd(40); pos("cli_positional", f"composer config --global github-oauth.github.com {s}", s)
s = rnd(32); pos("cli_positional", f"cargo login {s}", s)
s = hexs(40); pos("cli_positional", f"wandb login --relogin {s}", s)
s = pw(); pos("cli_flag", f"influx setup -u admin -p {s} -o acme -b metrics -r 30d -f", s)
s = rnd(46); pos("cli_flag", f"dotnet nuget push out/Acme.Core.1.4.0.nupkg -k {s} -s https://api.nuget.org/v3/index.json", s)
s = pw(); pos("cli_flag", f"dotnet nuget add source https://pkgs.acme.io/nuget/index.json -n acme -u ci -p {s} --store-password-in-clear-text", s)
s = pw(); pos("cli_flag", f"p4 -u ci -P {s} sync //depot/main/...", s)
s = pw(); pos("cli_flag", f"evil-winrm -i 10.20.0.5 -u administrator -p '{s}'", s)
s = pw(); pos("cli_flag", f"mosquitto_passwd -b /etc/mosquitto/passwd sensor-07 {s}", s)
# --- UI tests and expect scripts
s = pw(); pos("ui_test", f"cy.get('[data-test=password]').type('{s}')", s)
s = pw(); pos("ui_test", f"await page.fill('input[name=\"password\"]', '{s}');", s)
s = pw(); pos("ui_test", f"await page.getByLabel('Password').fill('{s}');", s)
s = pw(); pos("ui_test", f"cy.get('#login-form')\n  .find('#password')\n  .type('{s}{{enter}}')", s)
s = pw(); pos("ui_test", f"fill_in 'Password', with: '{s}'\nclick_button 'Sign in'", s)
s = pw(); pos("ui_test", f"*** Test Cases ***\nValid Login\n    Input Text        id=username    qa-admin\n    Input Password    id=password    {s}\n    Click Button      Login", s)
s = pw(); pos("ui_test", f"child = pexpect.spawn('ssh deploy@10.0.0.7')\nchild.expect('Password:')\nchild.sendline('{s}')", s)
s = pw(); pos("ui_test", f"spawn ssh-add /home/ci/.ssh/id_ed25519\nexpect \"Enter passphrase*\"\nsend -- \"{s}\\r\"\nexpect eof", s)
s = pw(); pos("ui_test", f"driver.findElement(By.name(\"password\")).sendKeys(\"{s}\");", s)
s = rnd(32); pos("ui_test", f"await $('#api-token').setValue('{s}')", s)
# --- quoting forms
s = rnd(24); pos("xml_cdata", f"<apiToken><![CDATA[{s}]]></apiToken>", s)
s = pw(); pos("xml_cdata", f"<jdbc>\n  <user>app</user>\n  <password><![CDATA[{s}]]></password>\n</jdbc>", s)
s = rnd(28); pos("rust_raw", f"let api_key = r##\"{s}\"##;", s)
s = pw(); pos("swift_raw", f"let password = #\"{s}\"#", s)
s = pw(); pos("cpp_raw", f"const std::string db_password = R\"pw({s})pw\";", s)
s = pw(); pos("lua_long", f"local password = [[{s}]]", s)
s = pw(12) + ";" + pw(6); pos("odbc_brace", f"Driver={{ODBC Driver 18 for SQL Server}};Server=db01;Uid=sa;Pwd={{{s}}};Encrypt=yes;", s)
s = rnd(40); pos("hadoop_xml", f"<property>\n  <name>fs.s3a.secret.key</name>\n  <value>{s}</value>\n</property>", s)
s = b64(64); pos("hadoop_xml", f"<property><name>fs.azure.account.key.datalake01.dfs.core.windows.net</name><value>{s}</value></property>", s)
s = pw(); pos("hadoop_xml", f"<property>\n  <name>javax.jdo.option.ConnectionPassword</name>\n  <value>{s}</value>\n</property>", s)
# --- prose in other languages
s = pw(); pos("prose_mk", f"Лозинката за базата е {s}", s)
s = pw(); pos("prose_hr", f"lozinka za bazu je {s}", s)
s = pw(); pos("prose_sl", f"geslo je {s}", s)
s = pw(); pos("prose_th", f"รหัสผ่าน: {s}", s)
s = pw(); pos("prose_th", f"รหัสผ่านของเซิร์ฟเวอร์คือ {s}", s)
s = pw(); pos("prose_bg", f"Паролата е {s}", s)
# --- template literals
s = pw(); pos("helm_b64enc", f"apiVersion: v1\nkind: Secret\nmetadata:\n  name: api\ndata:\n  api-key: {{{{ \"{s}\" | b64enc }}}}", s)
s = pw(); pos("ansible_hash", f"- name: create deploy user\n  user:\n    name: deploy\n    password: \"{{{{ '{s}' | password_hash('sha512') }}}}\"", s)
# --- encodings
from urllib.parse import quote
s = pw(); url = f"https://ci:{s}@git.acme.io/platform/infra.git"
pos("urlencoded_in_query", f"https://proxy.acme.io/fetch?src={quote(url, safe='')}&ttl=60", s)
t1, t2, t3 = "T" + rnd(10, "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"), "B" + rnd(10, "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"), rnd(24)
hook = f"https://hooks.slack.com/services/{t1}/{t2}/{t3}"
pos("urlencoded_in_query", f"curl 'https://relay.acme.io/v1/forward?dest={quote(hook, safe='')}'", t3)
inner = f"https://relay.acme.io/x?to={quote(hook, safe='')}"
t3b = rnd(24); hook2 = hook.replace(t3, t3b)
inner = f"https://relay.acme.io/x?to={quote(hook2, safe='')}"
pos("urlencoded_twice", f"https://sso.acme.io/login?next={quote(inner, safe='')}", t3b)
s = pw(); pos("yaml_tag", f"ansible_password: !unsafe '{s}'", s)
s = pw(); auth = base64.b64encode(f"ci-bot:{s}".encode()).decode()
cfg = base64.b64encode(json.dumps({"auths": {"registry.acme.io": {"auth": auth}}}).encode()).decode()
cases.append(("p", "docker_config_b64", f"variables:\n  DOCKER_AUTH_CONFIG: {cfg}", [cfg]))
# --- lists and siblings
s1, s2 = pw(), pw(); pos("yaml_list", f"redis:\n  passwords:\n    - {s1}\n    - {s2}", s1, s2)
s1, s2 = rnd(32), rnd(32); pos("flow_list", f"api_keys: [{s1}, {s2}]", s1, s2)
s = hexs(37); pos("python_kw", f"cf = cloudflare.Cloudflare(api_email=\"ops@acme.io\", api_key=\"{s}\")", s)
s = hexs(37); pos("json_sibling", f"{{\"email\": \"ops@acme.io\", \"key\": \"{s}\"}}", s)
s = pw(); pos("ui_test", f"child.expect(['Password:', pexpect.EOF])\nchild.sendline('{s}')", s)
s = pw(); pos("ui_test", f"cy.get('input[type=password]').clear().type('{s}')", s)
s = pw(); pos("xml_attr", f"<credentials>\n  <password encrypted=\"false\">{s}</password>\n</credentials>", s)
s = pw(); pos("xml_pretty", f"<server>\n  <id>nexus</id>\n  <password>\n    {s}\n  </password>\n</server>", s)
s = pw(); pos("java_xml_props", f"<properties>\n  <entry key=\"db.password\">{s}</entry>\n</properties>", s)
s = rnd(40); pos("hadoop_xml", f"<property><name>fs.s3a.secret.key</name><value><![CDATA[{s}]]></value></property>", s)
s = pw(); pos("ui_test", f"onView(withId(R.id.password)).perform(typeText(\"{s}\"), closeSoftKeyboard())", s)
s = pw(); pos("ui_test", f"await t.typeText('#password', '{s}')", s)
s = pw(); pos("ui_test", f"const passwordInput = screen.getByLabelText(/password/i);\nawait user.type(passwordInput, '{s}');", s)
s = pw(); pos("cli_flag", f"signtool sign /fd SHA256 /f release.pfx /p {s} /tr http://timestamp.digicert.com Setup.exe", s)
s = pw(); pos("cli_secret_store", f"pass insert -m infra/prod/db <<< '{s}'", s)
s = pw(); pos("cli_secret_store", f"secret-tool store --label='CI registry' service registry.acme.io user ci <<< {s}", s)

# --- look-alikes
for t in [
    "security find-generic-password -a ci -s github-deploy -w",
    "security add-generic-password -a ci -s github-deploy -w",
    "security create-keychain -p \"\" build.keychain",
    "az keyvault secret show --vault-name kv-prod --name db-password --query value -o tsv",
    "az keyvault secret set --vault-name kv-prod --name db-password --file ./secret.txt",
    "poetry config repositories.acme https://pypi.acme.io/simple/",
    "poetry config virtualenvs.in-project true",
    "composer config --global repo.packagist composer https://packagist.acme.io",
    "cargo login --registry acme",
    "cargo publish --registry acme --allow-dirty",
    "wandb login --relogin",
    "influx bucket create -n metrics -o acme -r 30d",
    "dotnet build -p:Configuration=Release -p:Version=1.4.0",
    "p4 -u ci sync //depot/main/...",
    "bw unlock --check",
    "mkdir -p build/out && ssh -p 2222 admin@bastion.acme.io",
    "psql -U postgres -W appdb",
    "cf login -a https://api.cf.acme.io -u ci-user",
    "cy.get('#password').type(Cypress.env('ADMIN_PASSWORD'))",
    "cy.get('#username').type('qa-admin')",
    "cy.get('#password').should('be.visible').and('have.attr', 'type', 'password')",
    "await page.fill('#search', 'quarterly report 2026');",
    "await page.getByLabel('Password').fill(process.env.E2E_PASSWORD!);",
    "fill_in 'Email', with: 'qa@acme.io'",
    "    Input Password    id=password    ${ADMIN_PASSWORD}",
    "expect \"login:\"\nsend \"admin\\r\"",
    "child.expect('Password:')\nchild.sendline(os.environ['SSH_PW'])",
    "const mask = new Array(12).fill('*').join('');",
    "<password><![CDATA[${DB_PASSWORD}]]></password>",
    "let re = Regex::new(r#\"password=(\\S+)\"#)?;",
    "Server=db01;User Id=sa;Password={password};",
    "var cs = $\"Server={host};User Id=sa;Password={dbPassword};\";",
    "<property><name>fs.s3a.access.key</name><value>AKIAIOSFODNN7EXAMPLE</value></property>",
    "<property><name>fs.azure.account.auth.type.datalake01.dfs.core.windows.net</name><value>OAuth</value></property>",
    "<property>\n  <name>hadoop.security.credential.provider.path</name>\n  <value>jceks://hdfs/user/admin/creds.jceks</value>\n</property>",
    "<property><name>dfs.replication</name><value>3</value></property>",
    "API key name: prod-readonly-2026",
    "Token label: ci-deploy-bot",
    "Password hint: first pet plus year",
    "รหัสผ่านต้องมีอย่างน้อย 12 ตัวอักษร",
    "Лозинката е сигурна и се чува во трезорот.",
    "title: {{ \"Quarterly Report\" | quote }}",
    "apiVersion: v1\nkind: Secret\nmetadata:\n  name: db\ndata:\n  password: {{ .Values.db.password | b64enc | quote }}",
    "https://login.acme.io/authorize?redirect_uri=https%3A%2F%2Fapp.acme.io%2Fcallback%3Ftab%3Dsettings&state=af0ifjsldkj",
    "https://web.archive.org/web/2024/https%3A%2F%2Fdocs.acme.io%2Fapi%2Fauth",
    "services:\n  api:\n    secrets:\n      - db_password\n      - api_key",
    "tokens: [\"hello\", \",\", \"world\"]",
    "max_tokens: 4096",
    "passwords:\n  - name: admin\n    valueFrom: vault",
    "aws_session_token = AQoDYXdzEJr...<remainder of security token>",
    "\"SessionToken\": \"AQoEXAMPLEH4aoAH0gNCAPyJxz4BlCFFxWNE1OPTgk5TthT+FvwqnKwRcOIfrRh3c/LTo6UDdyJwOOvEVPvLXCrrrUtdnniCEXAMPLE/IvU1dYUg2RVAJBanLiHb4IgRmpRV3zrkuWJOgQs8IZZaIv2BXIa2R4OlgkBN9bkUDNCJiBeb/AXlzBBko7b15fjrBs2+cTQtpZ3CYWFXG8C5zqx37wnOE49mRl/+OtkIKGO7fAE\"",
    "HTTP/1.1 200 OK\nContent-Type: application/json\n\n{\"access_token\":\"2YotnFZFEjr1zCsicMWpAA\",\"token_type\":\"example\",\"expires_in\":3600,\"refresh_token\":\"tGzv3JOkF0XG5Qx2TlKWIA\"}",
    "Authorization: Basic czZCaGRSa3F0MzpnWDFmQmF0M2JW",
    "Authorization: Bearer mF_9.B5f-4.1JqM",
    "Stripe.apiKey = \"sk_test_BQokikJOvBiI2HlWgH4olfQ2\";",
    "AccountEndpoint=https://localhost:8081/;AccountKey=C2y6yDjf5/R+ob0N8A7Cgv30VRDJIWEHLM+4QDU5DE2nQ9nDuVTqobD4b8mGGyPMbIZnqyMsEcaGQy67XIw/Jw==",
    "MAILGUN_API_KEY=key-3ax6xnjp29jd6fds4gc373sgvjxteol0",
    "eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9.eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ.dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk",
    "{\"email\": \"ops@acme.io\", \"key\": \"profile-settings\"}",
    "the token was truncated... (see logs)",
    "expect \"password:\"\nsend \"$pw\\r\"\nsend \"uptime\\r\"",
    "{ email: \"qa@acme.io\", key: \"row-17\" }",
    "cy.get('#password').clear().should('have.value', '')",
    "signtool verify /pa /v Setup.exe",
    "pass show infra/prod/db | head -1",
    "certutil -hashfile Setup.exe SHA256",
    "<password type=\"text\"/>",
    "<entry key=\"db.url\">jdbc:postgresql://db01:5432/app</entry>",
    "<password>\n</password>",
    "await t.typeText('#username', 'qa-admin')",
    "onView(withId(R.id.email)).perform(typeText(\"qa@acme.io\"))",
    "https://sso.acme.io/login?next=https%3A%2F%2Fapp.acme.io%2Fcb%3Fx%3Dhttps%253A%252F%252Fdocs.acme.io%252Fa",
    "/// # Parsing from tokens to Attribute",
    "apiVersion: v1\nkind: Secret\nmetadata:\n  name: mysecret\ntype: Opaque\ndata:\n  username: YWRtaW4=\n  password: MWYyZDFlMmU2N2Rm",
    "mongosh \"mongodb://myDBReader:D1fficultP%40ssw0rd@mongodb0.example.com:27017/?authSource=admin\"",
    "await userEvent.type(screen.getByLabelText(/email/i), 'qa@acme.io');",
    "await user.type(passwordInput, process.env.E2E_PASSWORD);",
    "Passwords are rotated every 90 days by the vault job.",
    "db_password: !vault |\n  $ANSIBLE_VAULT;1.1;AES256\n  62316638323135363438613035",
]:
    neg("lookalike", t)

out = []
np_ = nn = 0
for kind, ctx, text, secrets in cases:
    if kind == "p":
        np_ += 1; cid = f"r8-p{np_:04d}"
    else:
        nn += 1; cid = f"r8-n{nn:04d}"
    out.append(json.dumps({"id": cid, "kind": ctx if secrets else "none", "text": text, "secrets": secrets, "context": ctx}, ensure_ascii=False))
open(sys.argv[1], "w").write("\n".join(out) + "\n")
print(np_, nn, file=sys.stderr)

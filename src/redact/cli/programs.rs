//! The table of programs whose command lines carry passwords, and how each
//! takes its password (see the parent module for how the table is read).

/// How a program takes its password.
#[derive(Clone, Copy)]
pub(super) enum Style {
    /// `-pSECRET` (glued only: `-p` alone prompts).
    Glued(&'static str),
    /// `-p SECRET`.
    Apart(&'static str),
    /// `-p SECRET` or `-pSECRET`.
    Either(&'static str),
    /// `-passin pass:SECRET`: the next word, after a prefix.
    Prefixed(&'static str, &'static str),
    /// `-U user%SECRET`: the next word, after a separator.
    After(&'static str, u8),
    /// `user/SECRET@db` as the first word (Oracle tools).
    OracleLogin,
    /// The last word, when a batch flag is present (`htpasswd -b`).
    LastWithBatch,
    /// The word after `<subcommand> <user>` (`rabbitmqctl add_user u SECRET`).
    AfterSubcommand(&'static [&'static str]),
    /// The word after a here-string `<<<` (`sudo -S <<< SECRET`).
    HereString,
    /// The word after a literal keyword word (`nmcli … password SECRET`).
    AfterWord(&'static str),
    /// The n-th word (`wpa_passphrase SSID SECRET`).
    Nth(usize),
    /// The word after the program's first word (`vault login TOKEN`).
    Subcommand(&'static str),
    /// Under a subcommand path, the word after a flag or glued to it with
    /// `=` (`gh secret set NAME --body SECRET`).
    Under(&'static [&'static str], &'static [&'static str]),
    /// The word after `--value` when `--name` names a secret (`aws ssm
    /// put-parameter --name /prod/db/password --value SECRET`).
    NamedValue,
    /// `net use Z: \\host\share SECRET /user:DOMAIN\user`: the positional
    /// word that is neither a drive nor a share.
    NetUse,
    /// Under a subcommand path, the n-th word that is not a flag (`mc alias
    /// set NAME URL ACCESS SECRET`).
    NthUnder(&'static [&'static str], usize),
    /// Under a subcommand path, the value set for a secret's name (`gh
    /// variable set DB_PASSWORD --body SECRET`; see `named`).
    NamedUnder(&'static [&'static str], &'static [&'static str]),
    /// `pulumi config set NAME VALUE --secret`: the value, when the command
    /// has `--secret`.
    SecretSet,
    /// A word starting with a setting's prefix, and the n-th plain word after
    /// it (`poetry config http-basic.repo USER SECRET`).
    KeyThen(&'static str, usize),
    /// The first plain word after a subcommand, past the values of the
    /// flags listed (`cargo login --registry acme TOKEN`).
    Login(&'static str, &'static [&'static str]),
}

use Style::{
    After, AfterSubcommand, AfterWord, Apart, Either, Glued, HereString, KeyThen, LastWithBatch,
    Login, NamedUnder, NamedValue, NetUse, Nth, NthUnder, OracleLogin, Prefixed, SecretSet,
    Subcommand, Under,
};

/// Programs (exact command names) and their password arguments.
#[rustfmt::skip]
pub(super) const PROGRAMS: &[(&[&str], &[Style])] = &[
    (&["mysql", "mysqldump", "mysqladmin", "mysqlimport", "mysqlcheck", "mysqlpump", "mysqlsh", "mariadb",
       "mariadb-dump", "mariadb-admin", "mariadb-import", "mariadb-check"], &[Glued("-p")]),
    (&["sshpass"], &[Either("-p")]),
    (&["redis-cli", "valkey-cli", "keydb-cli"], &[Apart("-a"), Apart("--pass")]),
    (&["openssl"], &[Prefixed("-passin", "pass:"), Prefixed("-passout", "pass:"), Prefixed("-pass", "pass:"),
       Prefixed("-password", "pass:"), Apart("-k")]),
    (&["ldapsearch", "ldapadd", "ldapmodify", "ldapdelete", "ldapwhoami", "ldappasswd", "ldapcompare",
       "ldapmodrdn", "ldapexop"], &[Apart("-w")]),
    (&["sqlcmd", "bcp", "osql", "isql"], &[Either("-P")]),
    (&["zip", "unzip", "zipcloak"], &[Apart("-P"), Apart("--password")]),
    (&["7z", "7za", "7zr", "rar", "unrar"], &[Glued("-p"), Glued("-hp")]),
    (&["htpasswd"], &[LastWithBatch]),
    (&["smbclient", "rpcclient", "smbmap"], &[After("-U", b'%'), After("--user", b'%')]),
    (&["xfreerdp", "wlfreerdp", "sdl-freerdp", "xfreerdp3"], &[Glued("/p:"), Glued("/password:")]),
    (&["rdesktop"], &[Apart("-p")]),
    (&["sqlplus", "expdp", "impdp", "rman", "sqlldr"], &[OracleLogin]),
    (&["mongo", "mongosh", "mongodump", "mongorestore", "mongoexport", "mongoimport", "mongostat", "mongotop",
       "mongofiles"], &[Apart("-p"), Apart("--password")]),
    (&["cqlsh"], &[Apart("-p"), Apart("--password")]),
    (&["rabbitmqctl"], &[AfterSubcommand(&["add_user", "change_password", "authenticate_user"])]),
    (&["rabbitmqadmin"], &[Apart("-p"), Apart("--password")]),
    (&["mosquitto_pub", "mosquitto_sub", "mosquitto_rr"], &[Apart("-P"), Apart("--pw")]),
    (&["ssh-keygen"], &[Apart("-N"), Apart("-P")]),
    (&["az"], &[Apart("-p"), Apart("--password"), Under(&["keyvault", "secret", "set"], &["--value"])]),
    // macOS keychains: `-w` stores an item's password, `-p` a keychain's, `-P` a `.p12`'s.
    (&["security"], &[Under(&["add-generic-password"], &["-w"]), Under(&["add-internet-password"], &["-w"]),
       Under(&["unlock-keychain"], &["-p"]), Under(&["create-keychain"], &["-p"]),
       Under(&["set-keychain-password"], &["-o", "-p"]), Under(&["import"], &["-P"])]),
    // Package managers' repository credentials.
    (&["poetry"], &[KeyThen("http-basic.", 2), KeyThen("pypi-token.", 1)]),
    (&["composer"], &[KeyThen("http-basic.", 2), KeyThen("github-oauth.", 1), KeyThen("gitlab-token.", 1),
       KeyThen("gitlab-oauth.", 1), KeyThen("bearer.", 1), KeyThen("bitbucket-oauth.", 2)]),
    (&["cargo"], &[Login("login", &["--registry", "-Z", "--config"])]),
    (&["wandb"], &[Login("login", &["--host"])]),
    (&["dotnet"], &[Under(&["nuget", "push"], &["-k", "--api-key"]),
       Under(&["nuget", "add", "source"], &["-p", "--password"]),
       Under(&["nuget", "update", "source"], &["-p", "--password"])]),
    (&["influx"], &[Apart("-p"), Apart("-t"), Apart("-password")]),
    (&["p4"], &[Apart("-P")]),
    (&["mosquitto_passwd"], &[LastWithBatch]),
    (&["bw"], &[Subcommand("unlock"), AfterSubcommand(&["login"])]),
    // Password stores fed on stdin: `pass insert -m NAME <<< SECRET`.
    (&["pass", "gopass", "secret-tool", "keyring"], &[HereString]),
    // Code signing: `signtool sign /f cert.pfx /p SECRET`, `certutil -p SECRET -importpfx`.
    (&["signtool"], &[Apart("/p")]),
    (&["certutil"], &[Apart("-p")]),
    (&["curl"], &[Apart("--oauth2-bearer")]),
    (&["sudo", "passwd", "chpasswd"], &[HereString]),
    (&["lftp"], &[After("-u", b',')]),
    (&["ipmitool"], &[Apart("-P")]),
    (&["snmpwalk", "snmpget", "snmpset", "snmpbulkwalk", "snmpbulkget", "snmptable", "snmpgetnext",
       "snmptrap"], &[Apart("-A"), Apart("-X")]),
    (&["twine"], &[Apart("-p"), Apart("--password")]),
    (&["nmcli"], &[AfterWord("password"), AfterWord("wifi-sec.psk"), AfterWord("802-11-wireless-security.psk")]),
    (&["wpa_passphrase"], &[Nth(1)]),
    (&["vault"], &[Subcommand("login")]),
    // CLIs that take an API token as a positional word or a short flag.
    (&["snyk"], &[Subcommand("auth")]),
    (&["ngrok"], &[Subcommand("authtoken")]),
    (&["codecov"], &[Apart("-t"), Apart("--token")]),
    (&["gh"], &[Under(&["secret", "set"], &["--body", "-b"]),
       NamedUnder(&["variable", "set"], &["--body", "-b"])]),
    (&["glab"], &[NamedUnder(&["variable", "set"], &["--value", "-v"]),
       NamedUnder(&["variable", "update"], &["--value", "-v"])]),
    (&["aws"], &[NamedValue, Under(&["secretsmanager"], &["--secret-string"])]),
    (&["net"], &[NetUse, AfterSubcommand(&["user"])]),
    (&["pulumi"], &[SecretSet]),
    // Registry credentials as `user:password` (containers/image tools).
    (&["skopeo", "podman", "buildah"], &[After("--creds", b':'), After("--src-creds", b':'),
       After("--dest-creds", b':'), After("--screds", b':'), After("--dcreds", b':')]),
    // PowerShell: `ConvertTo-SecureString "SECRET" -AsPlainText -Force`.
    (&["ConvertTo-SecureString", "convertto-securestring"], &[Nth(0), Apart("-String")]),
    (&["mc", "mcli"], &[NthUnder(&["alias", "set"], 3), NthUnder(&["config", "host", "add"], 3)]),
    // (A name is read up to a `.`: `PsExec.exe`, `psexec.py` are found too.)
    (&["ncftp", "ncftpget", "ncftpput", "hydra", "psexec", "PsExec", "PsExec64", "wmiexec", "smbexec"],
       &[Apart("-p")]),
    (&["evil-winrm", "crackmapexec", "netexec", "nxc", "cypher-shell"], &[Apart("-p"), Apart("--password")]),
];

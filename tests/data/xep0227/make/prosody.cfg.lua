-- Prosody config that makes the data exported to tests/data/xep0227/prosody/.
-- @DIR@ and @PORT@ are filled in by make-exports.
pidfile = "@DIR@/prosody.pid"
data_path = "@DIR@/data"
log = { info = "@DIR@/prosody.log" }
interfaces = { "127.0.0.1" }
c2s_ports = { @PORT@ }
c2s_direct_tls_ports = { }
modules_enabled = { "roster"; "saslauth"; "disco"; "posix"; "offline"; "vcard"; "private"; "pep" }
modules_disabled = { "s2s" }
authentication = "internal_hashed"
storage = "internal"
c2s_require_encryption = false
allow_unencrypted_plain_auth = true
VirtualHost "localhost"

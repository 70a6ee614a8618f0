-- Prosody 0.12 for bench/run: private directories, loopback only, non-default ports.
-- @DIR@, @C2S_PORT@, @HTTP_PORT@ and @TOKEN@ are filled in by bench/run.
pidfile = "@DIR@/prosody.pid"
data_path = "@DIR@/data"
plugin_paths = { "@DIR@/plugins" }
log = { warn = "@DIR@/prosody.log" }

interfaces = { "127.0.0.1" }
local_interfaces = { "127.0.0.1" }
c2s_interfaces = { "127.0.0.1" }
http_interfaces = { "127.0.0.1" }
c2s_ports = { @C2S_PORT@ }
c2s_direct_tls_ports = { }
http_ports = { @HTTP_PORT@ }
https_ports = { }
-- Requests to 127.0.0.1:PORT carry no virtual host name.
http_default_host = "localhost"
certificates = "@DIR@/certs"

admins = { }
modules_enabled = {
	"roster"; "saslauth"; "disco"; "ping"; "posix";
	"http"; "websocket"; "tokenauth";
}
modules_disabled = { "s2s" }

authentication = "internal_hashed"
storage = "internal"

-- Plain TCP and PLAIN for the load client, as on loopback with Switchboard.
c2s_require_encryption = false
allow_unencrypted_plain_auth = true
consider_websocket_secure = true
-- Throttles would measure the throttle, not the server.
limits = { c2s = { rate = "100mb/s" } }

VirtualHost "localhost"
	modules_enabled = { "rest"; "bench_static_token" }
	bench_static_token = "@TOKEN@"
	bench_static_token_user = "alice"

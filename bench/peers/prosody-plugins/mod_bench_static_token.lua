-- Benchmark only (bench/run): make mod_rest accept one static Bearer token, configured as
-- bench_static_token, as a session of bench_static_token_user on this host, without a
-- storage lookup. This is Prosody's cheapest Bearer path, so the comparison with
-- Switchboard's `token create` tokens is not flattered by Prosody's file store.
-- Load it on the VirtualHost next to "rest"; it wraps mod_tokenauth's get_token_info,
-- which mod_rest calls for every Bearer request on Prosody 0.12.
local token = module:get_option_string("bench_static_token");
local user = module:get_option_string("bench_static_token_user", "alice");
assert(token and #token >= 16, "bench_static_token must be set (16+ characters)");

local tokenauth = module:depends("tokenauth");
local original = tokenauth.get_token_info;
local info = {
	owner = user .. "@" .. module.host;
	jid = user .. "@" .. module.host;
	session = { username = user; host = module.host; resource = nil; };
};

tokenauth.get_token_info = function(candidate)
	if candidate == token then
		return info;
	end
	return original(candidate);
end

function module.unload()
	tokenauth.get_token_info = original;
end

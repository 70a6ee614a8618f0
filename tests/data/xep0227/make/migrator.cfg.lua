-- Prosody 0.12 has no XEP-0227 offline store, so offline-archive is not listed.
-- prosody-migrator: Prosody's internal storage in @DIR@/data to XEP-0227 files.
input {
	type = "internal";
	path = "@DIR@/data";
	hosts = {
		["localhost"] = {
			"accounts", "roster", "vcard", "private", "pep-pubsub",
		};
	};
}
-- mod_storage_xep0227 ignores `path`: it writes into the migrator's data directory.
output {
	type = "xep0227";
}

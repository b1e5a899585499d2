// Installed into Thunderbird's defaults/pref/ by test_archive_evidence.py for one run, then
// removed: turns on Thunderbird's AutoConfig with credence-test.cfg (unsandboxed, ESR only).
pref("general.config.filename", "credence-test.cfg");
pref("general.config.obscure_value", 0);
pref("general.config.sandbox_enabled", false);

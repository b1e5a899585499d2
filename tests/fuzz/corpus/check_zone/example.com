$ORIGIN example.test.
$TTL 300
@ IN SOA ns.example.test. hostmaster.example.test. 1 3600 600 86400 300
@ IN NS ns.example.test.
ns IN A 192.0.2.53
@ IN MX 10 mail
@ IN A 192.0.2.10
mail IN A 192.0.2.10
@ IN TXT "v=spf1 mx -all"
20160629._domainkey IN TXT "v=DKIM1; k=rsa; p=MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQC+KAh4JvzhvAdcNje6hV4oHN2vfrO63Vat4MfxVLJ+bdy7nTR7ettYjiRfoD3ie1Os5bm8XTMW0pARUyaxp3cAMHAYNXBbyCp1Z35at5NPFLMWb0hXpw0/Z3IPzgWWFGeJz55yBkI9gTg5FGziOsc//SdbJ8xhyCpvKALyISQtwQIDAQAB"
_domainkey IN TXT "t=y;o=~;r=postmaster@example.test"

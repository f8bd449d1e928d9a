"""The prompt firewall: input scanners, context isolation, output validators, audit chain, threat-intel packs."""

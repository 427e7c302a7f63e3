#!/usr/bin/env python3
"""Writes a Clearsight project over a folder of ../shared/bench/gen_extracts.py extracts.

    scripts/bench_project.py DATA_DIR PROJECT_DIR

PROJECT_DIR gets the repository's config/ and queries/, with config/sources.yaml pointing at
DATA_DIR's files and config/mart.yaml carrying DATA_DIR/oracle_config.json's settings (own
hosts, lookback, half-life, spam statuses, lead fields, channel maps), so that `clearsight
build` and duckdb_fast.py build the same mart from the same files.
"""
import json
import os
import shutil
import sys

import yaml  # PyYAML: installed with moto, which CI installs too

data, project = (os.path.abspath(p) for p in sys.argv[1:3])
repo = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
cfg = json.load(open(os.path.join(data, "oracle_config.json")))
os.makedirs(project, exist_ok=True)
for folder in ("config", "queries"):
    shutil.rmtree(os.path.join(project, folder), ignore_errors=True)
    shutil.copytree(os.path.join(repo, folder), os.path.join(project, folder))

PLATFORMS = {"google_ads": "google_ads", "meta": "meta_ads", "linkedin": "linkedin_ads"}
# scripts/scale_ga4.sh writes gzip-compressed days
gz = any(f.endswith(".json.gz") for f in os.listdir(os.path.join(data, "ga4")))
sources = [{"kind": "ga4_json", "path": f"{data}/ga4/events_*.json" + (".gz" if gz else "")}]
if os.path.isdir(os.path.join(data, "hubspot")):
    sources += [
        {"kind": "hubspot_contacts", "path": f"{data}/hubspot/contacts_*.csv",
         "fields": {"lead_source": "lead_source", "ga_client_id": "ga_client_id",
                    "utm_source": "utm_source", "utm_medium": "utm_medium", "utm_campaign": "utm_campaign"}},
        {"kind": "hubspot_deals", "path": f"{data}/hubspot/deals_*.csv"},
    ]
else:
    sources += [
        {"kind": "salesforce_leads", "path": f"{data}/salesforce/Lead_*.csv", "fields": cfg["lead_fields"]},
        {"kind": "salesforce_opportunities", "path": f"{data}/salesforce/Opportunity_*.csv"},
    ]
for path, platform in cfg["spend_files"].items():
    sources.append({"kind": PLATFORMS[platform], "path": f"{data}/{path}"})
sources_yaml = {
    "warehouse": "warehouse",
    "reporting_currency": cfg.get("reporting_currency", "USD"),
    "currency_rates": {"EUR": 1.08, "GBP": 1.27},
    "sources": sources,
}
with open(os.path.join(project, "config/sources.yaml"), "w") as f:
    yaml.safe_dump(sources_yaml, f, sort_keys=False)

mart_path = os.path.join(project, "config/mart.yaml")
mart = yaml.safe_load(open(mart_path))
mart["own_hosts"] = cfg["site_hosts"]
mart["reporting_timezone"] = cfg.get("reporting_time_zone", "UTC")
mart["lookback_days"] = cfg["lookback_days"]
mart["half_life_days"] = cfg["time_decay_half_life_days"]
mart["spam_statuses"] = cfg["spam_statuses"]
mart["lead_source_channels"] = {k.lower(): v for k, v in cfg["lead_source_channel_map"].items()}
channels = cfg["spend_platform_channel"]
mart["platform_channels"] = {PLATFORMS[p]: c["default"] for p, c in channels.items()}
mart["campaign_channel_overrides"] = [
    {"platform": PLATFORMS[p], "campaign_contains": o["campaign_contains"], "channel": o["channel"]}
    for p, c in channels.items() for o in c.get("campaign_overrides", [])
]
with open(mart_path, "w") as f:
    yaml.safe_dump(mart, f, sort_keys=False)
print(f"project {project} over {data}: {len(sources)} sources")

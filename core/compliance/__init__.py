"""Step 6, Compliance: PII detection, k-anonymity and de-identification, fairness, the evidence-
backed checklist, the keyed audit trail, reports, encryption and the session backup.

See docs/ARCHITECTURE.md for the layers and the one-way import rule.
"""

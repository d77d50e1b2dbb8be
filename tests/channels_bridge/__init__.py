"""Tests of the bridge: connectors on the real SDKs, webhooks, signatures, simulator."""

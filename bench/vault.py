"""Vault cost: encrypt+decrypt of a 280-character message against a plaintext save/load.

Run: ``make bench`` or ``.venv/bin/python bench/vault.py`` (DATABASE_URL picks the database).
Prints medians; the machine is shared, so compare ratios rather than absolute figures.
"""

from __future__ import annotations

import random
import string

from _django import median_us, throwaway_database


def main() -> None:
    with throwaway_database():
        from django.db import connection
        from django.utils import timezone

        from inbox import services, vault
        from inbox.models import Message, MessageKind, MessageSource, Team, Ticket

        rng = random.Random(7)
        text = "".join(rng.choice(string.ascii_letters + " äöüé€") for _ in range(280))
        team = Team.objects.create(name="Bench")
        channel = services.create_channel(
            team=team, platform="x", name="Bench", external_account_id="1", credentials={}
        )
        ticket = Ticket.objects.create(team=team, channel=channel, last_activity_at=timezone.now())
        vault.create_key(ticket)
        message = Message(ticket=ticket, kind=MessageKind.INBOUND, source=MessageSource.SOCIAL)
        blob = vault.encrypt(ticket, message, "body", text)

        def roundtrip() -> None:
            vault.decrypt(ticket, message, "body", vault.encrypt(ticket, message, "body", text))

        crypto_only = median_us(roundtrip, number=2000)

        def encrypted_save_load() -> None:
            m = Message(ticket=ticket, kind=MessageKind.INBOUND, source=MessageSource.SOCIAL)
            m.body_ciphertext = vault.encrypt(ticket, m, "body", text)
            m.save()
            loaded = Message.objects.get(pk=m.pk)
            vault.decrypt(ticket, loaded, "body", loaded.body_ciphertext)

        def plaintext_save_load() -> None:
            m = Message(ticket=ticket, kind=MessageKind.INBOUND, source=MessageSource.SOCIAL)
            m.body_ciphertext = text.encode()  # same column, no encryption: the baseline
            m.save()
            bytes(Message.objects.get(pk=m.pk).body_ciphertext or b"").decode()

        encrypted = median_us(encrypted_save_load, number=200)
        plain = median_us(plaintext_save_load, number=200)
        engine = connection.vendor
        print(f"vault bench on {engine}, 280-character message, median of 7 runs")
        print(f"  encrypt+decrypt (AES-256-GCM, cached DEK): {crypto_only:8.1f} µs")
        print(f"  ciphertext size: {len(blob)} bytes for {len(text.encode())} plaintext bytes")
        print(f"  save+load, encrypted:                      {encrypted:8.1f} µs")
        print(f"  save+load, plaintext:                      {plain:8.1f} µs")
        print(f"  ratio encrypted/plaintext save+load:       {encrypted / plain:8.2f}x")
        print(f"  crypto share of a plaintext save+load:     {crypto_only / plain:8.1%}")


if __name__ == "__main__":
    main()

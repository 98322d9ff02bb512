"""The yardstick for `bench/smpp_flood.py`: a bare smpplib ESME that echoes every message.

    python bench/smpp_echo_baseline.py --port N [--host 127.0.0.1]

Binds as a transceiver and answers every deliver_sm with deliver_sm_resp and a submit_sm
carrying the same text back to the sender: no database, no rules, no durability. What the
gateway achieves against the same SMSC, over this client's rate, is the price of doing the job.
Runs until the SMSC closes the connection or SIGTERM.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys

import smpplib.client
import smpplib.consts
import smpplib.exceptions


def echo_client(host: str, port: int) -> smpplib.client.Client:
    """A bound smpplib client whose handler echoes each deliver_sm back to its sender."""
    client = smpplib.client.Client(host, port, timeout=None, allow_unknown_opt_params=True)

    def echo(pdu: smpplib.command.DeliverSM, **_: object) -> int:
        client.send_message(
            source_addr_ton=smpplib.consts.SMPP_TON_SBSCR,
            source_addr="377",
            dest_addr_ton=pdu.source_addr_ton,
            dest_addr_npi=pdu.source_addr_npi,
            destination_addr=pdu.source_addr.decode("ascii"),
            data_coding=pdu.data_coding,
            esm_class=pdu.esm_class,
            short_message=pdu.short_message,
        )
        return smpplib.consts.SMPP_ESME_ROK

    client.set_message_received_handler(echo)
    client.set_message_sent_handler(lambda pdu, **_: None)
    client.connect()
    client.bind_transceiver(system_id="echo", password="echo")
    return client


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    client = echo_client(args.host, args.port)
    try:
        client.listen()
    except smpplib.exceptions.ConnectionError:
        pass  # the SMSC is done with us
    finally:
        client.disconnect()
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Parts of the simulated GSM modem (`tools/sim_modem.py`): SIM, AT engine, pty, control API."""

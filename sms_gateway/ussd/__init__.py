"""USSD sessions over SMPP and USSD over HTTP; the menu itself is rules (permits.ussd_menu)."""

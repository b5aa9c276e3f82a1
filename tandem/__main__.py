from tandem.cli import _entry

_entry()

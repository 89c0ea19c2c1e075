from statelab.cli import entry

entry()

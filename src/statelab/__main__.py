from statelab.cli import main

main()

from cogid.cli import main

main()

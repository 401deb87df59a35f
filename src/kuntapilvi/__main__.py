from kuntapilvi.cli import main

main()

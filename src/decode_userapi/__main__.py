from decode_userapi.entrypoints.cli import main

main()

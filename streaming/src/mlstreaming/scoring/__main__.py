from mlstreaming.scoring.main import main

main()

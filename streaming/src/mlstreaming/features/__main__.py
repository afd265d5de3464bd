from mlstreaming.features.main import main

main()

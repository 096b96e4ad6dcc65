from edge_agent.schemas import main

main()

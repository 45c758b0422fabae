"""The research-proposal workflow: five specialist agents write a `ResearchProposal`, which a
minimal experiment validates (graph wiring in `trainlab/graphs/proposal.py`; see docs/PROPOSALS.md).

    schema     ResearchProposal (ten sections, none empty), its builder, JSON + Markdown
    request    ProposalRequest, Budget (of the validation), Draft (what an agent sees)
    library    topic → component, recorded costs (what the offline agents read)
    offline    the roles' offline policies;  prompts: their LLM prompts
    agents     the five roles and the critic (LLM or offline), Team, build_team
    workflow   merge contributions, save proposals and answers
    validate   run the designed experiment, write the measurement into the proposal
    stagnation when and what the HPO lab asks (commands/propose.py, ask.py: the CLI)
"""

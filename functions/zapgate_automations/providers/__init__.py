"""Chat model adapters (the ChatModel port of zapgate_core.domain.automations.conversation): openai_chat for
OpenAI-compatible Chat Completions endpoints, bedrock_converse for Amazon Bedrock. Each imports its client
library on first use, so importing them costs nothing at a cold start."""

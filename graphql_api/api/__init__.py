"""The GraphQL edge: Strawberry types, resolvers, DataLoaders, auth context, error mapping."""

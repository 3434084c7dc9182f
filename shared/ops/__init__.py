"""Operations shared by every provider: budgets and rate limits, with their state in Firestore."""

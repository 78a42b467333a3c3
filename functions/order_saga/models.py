"""The order a client submits (Powertools parser / pydantic)."""

from __future__ import annotations

from decimal import Decimal

from pydantic import BaseModel, Field, ValidationError


class OrderItem(BaseModel):
    productId: str = Field(min_length=1, max_length=100)
    quantity: int = Field(gt=0, le=1000)
    price: Decimal = Field(ge=0, max_digits=12, decimal_places=2)


class NewOrder(BaseModel):
    customerId: str = Field(min_length=1, max_length=100)
    items: list[OrderItem] = Field(min_length=1, max_length=100)
    totalAmount: Decimal = Field(gt=0, max_digits=12, decimal_places=2)


def describe(error: ValidationError) -> str:
    """One line naming each bad field and what it needs, e.g.
    ``items.0.quantity: Input should be greater than 0``."""
    return "; ".join(f"{'.'.join(str(p) for p in e['loc']) or 'order'}: {e['msg']}"
                     for e in error.errors())

"""Every table. Import from here so Alembic and the app see one complete metadata."""

from tidings.store.models.audit import AuditEntry
from tidings.store.models.auth import ApiToken, LoginAttempt, User, WebSession, user_brands
from tidings.store.models.cases import Action, Case, CaseEvent, HumanLabel
from tidings.store.models.channels import DeliveryEvent, WhatsAppApproval, WhatsAppTemplate
from tidings.store.models.customers import BrandRow, Customer, CustomerConsent
from tidings.store.models.emails import InboundEmail
from tidings.store.models.mailboxes import MailboxSyncState
from tidings.store.models.models import ClassifierModel, ModelPromotion
from tidings.store.models.notifications import Notification
from tidings.store.models.orders import Order, OrderLine, PurchaseOrder, Shipment, TrackingEvent
from tidings.store.models.switches import KillSwitch
from tidings.store.models.templates import Template, TemplateVersion
from tidings.store.models.unsubscribe import UnsubscribeToken
from tidings.store.models.wismo import ShipmentUpdate, WismoEpisode, WismoScan

__all__ = [
    "Action",
    "ApiToken",
    "AuditEntry",
    "BrandRow",
    "Case",
    "CaseEvent",
    "ClassifierModel",
    "Customer",
    "CustomerConsent",
    "DeliveryEvent",
    "HumanLabel",
    "InboundEmail",
    "KillSwitch",
    "LoginAttempt",
    "MailboxSyncState",
    "ModelPromotion",
    "Notification",
    "Order",
    "OrderLine",
    "PurchaseOrder",
    "Shipment",
    "ShipmentUpdate",
    "Template",
    "TemplateVersion",
    "TrackingEvent",
    "UnsubscribeToken",
    "User",
    "WebSession",
    "WhatsAppApproval",
    "WhatsAppTemplate",
    "WismoEpisode",
    "WismoScan",
    "user_brands",
]

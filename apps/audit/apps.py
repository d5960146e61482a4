from django.apps import AppConfig


class AuditConfig(AppConfig):
    name = "apps.audit"
    label = "audit"
    verbose_name = "Audit trail"

    def ready(self):
        from apps.core.operations import operation_performed

        from .services import record_operation

        operation_performed.connect(record_operation, dispatch_uid="calypso_audit_operations")

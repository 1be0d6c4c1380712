"""Database models: the health event log shown in the admin."""

from __future__ import annotations

from django.db import models


class HealthEvent(models.Model):
    """One change a server node observed: a Redis node's health, a node joining or leaving."""

    class Kind(models.TextChoices):
        REDIS = "redis", "Redis health"
        NODE_JOINED = "node_joined", "Node joined"
        NODE_LEFT = "node_left", "Node left"
        DUPLICATE_NAME = "duplicate_name", "Duplicate server name"

    created = models.DateTimeField(db_index=True)
    node = models.CharField("observed by", max_length=100, db_index=True)
    kind = models.CharField(max_length=20, choices=Kind.choices, db_index=True)
    subject = models.CharField(max_length=200, help_text="The Redis node or server node concerned.")
    healthy = models.BooleanField(null=True)
    detail = models.TextField(blank=True)

    class Meta:
        ordering = ["-created", "-id"]
        indexes = [models.Index(fields=["kind", "-created"])]

    def __str__(self) -> str:
        when = f"{self.created:%Y-%m-%d %H:%M:%S}"
        return f"{when} {self.node}: {self.get_kind_display()} {self.subject}"


class ClusterStatus(models.Model):
    """No table: gives the live cluster status page its entry in the admin index."""

    class Meta:
        managed = False
        verbose_name = "cluster status"
        verbose_name_plural = "cluster status"
        default_permissions = ()

package web

import (
	"fmt"
	"net/http"

	"pacer/internal/clinic"
	"pacer/internal/store"
)

// exportPatient answers GET /api/v1/patients/{id}/export: everything stored
// about the therapist's patient, as one JSON file.
func (s *Server) exportPatient(w http.ResponseWriter, r *http.Request, t store.Therapist) {
	id, ok := pathID(r)
	if !ok {
		writeError(w, http.StatusNotFound, "patient not found")
		return
	}
	out, err := s.Clinic.Export(r.Context(), t.ID, id)
	if err != nil {
		s.fail(w, r, err, "patient")
		return
	}
	writeExport(w, out)
}

// writeExport sends an export as a JSON file to download.
func writeExport(w http.ResponseWriter, x clinic.Export) {
	w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="pacer-patient-%d.json"`, x.Patient.ID))
	writeJSON(w, http.StatusOK, x)
}

// erasePatient answers DELETE /api/v1/patients/{id}: the therapist's patient
// and everything of theirs are deleted in one transaction; 204.
func (s *Server) erasePatient(w http.ResponseWriter, r *http.Request, t store.Therapist) {
	id, ok := pathID(r)
	if !ok {
		writeError(w, http.StatusNotFound, "patient not found")
		return
	}
	if err := s.Clinic.Erase(r.Context(), t.ID, id); err != nil {
		s.fail(w, r, err, "patient")
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
